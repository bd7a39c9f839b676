// The floor: bare node:http answering a small JSON body, nothing else. PORT from the environment.
const { createServer } = require('node:http');

const body = JSON.stringify({ status: 'ok' });
createServer((request, response) => {
  response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
  response.end(body);
}).listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('listening\n'));
