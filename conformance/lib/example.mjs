// The example of docs/backend.md, compiled from the page itself: its one
// ```ts block is type-checked with tsc --strict against the packages the
// backend uses (kafkajs, MQTT.js, Zod, @iot-hub/contracts-kafka), then
// imported, so that the page cannot rot.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url)); // conformance/
const page = fileURLToPath(new URL('../../docs/backend.md', import.meta.url));
const build = `${root}.build/`;
const tsc = `${root}node_modules/typescript/bin/tsc`;
const common = ['--strict', '--skipLibCheck', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext'];

// exampleSource returns the one ```ts block of docs/backend.md.
export function exampleSource() {
  const blocks = [...readFileSync(page, 'utf8').matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
  if (blocks.length !== 1) throw new Error(`${page}: want one \`\`\`ts block, found ${blocks.length}`);
  return blocks[0];
}

// loadExample compiles the example and returns its module. tsc's errors
// name the line of the block.
export async function loadExample() {
  mkdirSync(build, { recursive: true });
  writeFileSync(`${build}backend.ts`, exampleSource());
  const run = (args) => {
    try {
      execFileSync(process.execPath, [tsc, ...common, ...args], { cwd: root, stdio: 'pipe' });
    } catch (err) {
      throw new Error(`tsc ${args.at(-1)}:\n${err.stdout}${err.stderr}`);
    }
  };
  // The contracts library is JavaScript: its types come from tsc too.
  run(['--allowJs', '--declaration', '--emitDeclarationOnly', '--declarationDir', 'contracts-kafka', 'contracts-kafka/index.js']);
  run(['--outDir', '.build', '.build/backend.ts']);
  return import(`${build}backend.js`);
}
