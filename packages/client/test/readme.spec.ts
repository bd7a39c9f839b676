import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

/**
 * Every TypeScript example in the package's README type-checks against the package's sources,
 * with the framework types installed here, so the README cannot drift from the API.
 */
const root = join(__dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const examples = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]);

it('has an example for the client and each framework', () => {
  expect(examples.map((code) => code.match(/from '(@keyward\/client[^']*)'/g)?.at(-1))).toEqual([
    "from '@keyward/client'",
    "from '@keyward/client/nest'",
    "from '@keyward/client/express'",
    "from '@keyward/client/fastify'",
  ]);
});

it('type-checks every example', () => {
  const files = new Map(
    examples.map((code, i) => [
      join(root, 'test', `readme-example-${i}.mts`),
      // Each example is an ES module of its own; the package is imported from its sources.
      `export {};\ndeclare const presentedKey: string;\n${code}`.replace(
        /from '@keyward\/client(\/\w+)?'/g,
        (_all, entry: string | undefined) => `from '../src${entry ?? '/index'}.js'`,
      ),
    ]),
  );
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.Node20,
    moduleResolution: ts.ModuleResolutionKind.Node16,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2023.d.ts'],
    types: ['node'],
    strict: true,
    experimentalDecorators: true,
    skipLibCheck: true,
    noEmit: true,
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (name) => files.has(name) || fileExists(name);
  host.readFile = (name) => files.get(name) ?? readFile(name);
  host.getSourceFile = (name, language, ...rest) =>
    files.has(name) ? ts.createSourceFile(name, files.get(name)!, language) : getSourceFile(name, language, ...rest);
  const program = ts.createProgram([...files.keys()], options, host);
  const errors = ts
    .getPreEmitDiagnostics(program)
    .map((d) => `${d.file?.fileName ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
  expect(errors).toEqual([]);
});
