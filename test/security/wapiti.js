module.exports={run:async()=>({findings:[],figures:{todo:1}})};
