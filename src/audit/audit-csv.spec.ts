import { csvCell } from './audit-csv';

describe('audit CSV cells', () => {
  it.each<[string, unknown, string]>([
    ['plain text as it is', 'plain', 'plain'],
    ['a comma quoted', 'a,b', '"a,b"'],
    ['a semicolon quoted (spreadsheets that split on ;)', 'a;=cmd|/C calc', '"a;=cmd|/C calc"'],
    ['quotes doubled', 'say "hi"', '"say ""hi"""'],
    ['a line feed quoted', 'one\ntwo', '"one\ntwo"'],
    ['a carriage return quoted', 'one\rtwo', '"one\rtwo"'],
    ['= defused and quoted', '=1+1', `"'=1+1"`],
    ['+ defused and quoted', '+1', `"'+1"`],
    ['- defused and quoted', '-1', `"'-1"`],
    ['@ defused and quoted', '@SUM(A1)', `"'@SUM(A1)"`],
    ['a leading tab defused', '\t=1', `"'\t=1"`],
    ['a leading carriage return defused', '\r=1', `"'\r=1"`],
    ['a formula with a separator', '=HYPERLINK("http://evil";"x")', `"'=HYPERLINK(""http://evil"";""x"")"`],
    ['an = inside as it is', 'a=b', 'a=b'],
    ['null empty', null, ''],
    ['undefined empty', undefined, ''],
    ['a number', 42, '42'],
    ['a date as ISO', new Date('2026-01-02T03:04:05.678Z'), '2026-01-02T03:04:05.678Z'],
    ['an object as quoted JSON', { a: 1 }, '"{""a"":1}"'],
  ])('%s', (_, value, cell) => {
    expect(csvCell(value)).toBe(cell);
  });
});
