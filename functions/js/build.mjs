// Builds one JavaScript function project into an Eddy component (called by build.sh).
//
//     node build.mjs TOOLCHAIN_DIR SDK_DIR PROJECT_DIR HANDLER OUT_WASM
//
// 1. Writes a tiny entry module (in a temporary directory, never in PROJECT_DIR) that
//    imports HANDLER (`module.function`: export `function` of PROJECT_DIR/module.js or
//    .mjs) and exports the world's `handle` around it through the SDK.
// 2. Bundles it with esbuild into ONE module (componentize-js takes one), resolving
//    `eddy` to SDK_DIR/js/eddy/index.js and the project's own npm packages from its
//    node_modules, and leaving the WIT imports (`eddy:function/*`, `wasi:*`) external.
// 3. Runs componentize-js (its Node API: the `jco componentize` command failed here) on
//    the bundle against SDK_DIR/wit/function.wit, world `function`.
// 4. Writes OUT_WASM through a temporary sibling and a rename, so that a failed or killed
//    build never leaves a half file where the CLI looks for the component.
//
// It knows the toolchain's layout (node_modules under TOOLCHAIN_DIR) and the SDK's, and
// nothing of the Eddy CLI or server.

import { mkdtemp, rm, writeFile, rename, mkdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const USAGE = 'usage: node build.mjs TOOLCHAIN_DIR SDK_DIR PROJECT_DIR HANDLER OUT_WASM';
// The extensions tried for a handler module, in order (Lambda's Node runtime takes both).
const HANDLER_EXTENSIONS = ['.js', '.mjs'];

// A build failure the user can act on: printed as one line, without a stack.
class BuildFailure extends Error {}

function fail(message) {
  throw new BuildFailure(message);
}

async function exists(file) {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

async function main() {
  const [toolchainDir, sdkDir, projectDir, handler, outWasm] = process.argv.slice(2);
  if (!outWasm) {
    fail(USAGE);
  }

  const dot = handler.lastIndexOf('.');
  if (dot <= 0 || dot === handler.length - 1) {
    fail(`the handler ${JSON.stringify(handler)} is not of the form module.function (e.g. handler.handler)`);
  }
  const moduleName = handler.slice(0, dot);
  const functionName = handler.slice(dot + 1);
  if (!/^[A-Za-z_$][\w$]*$/.test(functionName)) {
    fail(`the handler's function name ${JSON.stringify(functionName)} is not a JavaScript identifier`);
  }

  let handlerFile = null;
  for (const ext of HANDLER_EXTENSIONS) {
    const candidate = path.resolve(projectDir, moduleName + ext);
    if (await exists(candidate)) {
      handlerFile = candidate;
      break;
    }
  }
  if (handlerFile === null) {
    fail(
      `no handler module: neither ${HANDLER_EXTENSIONS.map((e) => moduleName + e).join(' nor ')} in ${path.resolve(projectDir)}`,
    );
  }

  const sdkEntry = path.resolve(sdkDir, 'js', 'eddy', 'index.js');
  const witPath = path.resolve(sdkDir, 'wit', 'function.wit');
  for (const needed of [sdkEntry, witPath]) {
    if (!(await exists(needed))) {
      fail(`the SDK is incomplete: ${needed} is missing (EDDY_SDK_DIR=${sdkDir})`);
    }
  }

  const modules = path.resolve(toolchainDir, 'node_modules');
  const esbuild = (await import(pathToFileURL(path.join(modules, 'esbuild', 'lib', 'main.js')))).default;
  const { componentize } = await import(
    pathToFileURL(path.join(modules, '@bytecodealliance', 'componentize-js', 'src', 'componentize.js'))
  );

  const work = await mkdtemp(path.join(tmpdir(), 'eddy-js-build-'));
  try {
    const entry = path.join(work, 'entry.js');
    await writeFile(
      entry,
      [
        `import * as user from ${JSON.stringify(handlerFile)};`,
        `import { exportHandler } from 'eddy';`,
        `const run = exportHandler(user[${JSON.stringify(functionName)}], ${JSON.stringify(path.basename(handlerFile))}, ${JSON.stringify(functionName)});`,
        `export function handle(eventJson) { return run(eventJson); }`,
        '',
      ].join('\n'),
    );

    const bundle = path.join(work, 'bundle.js');
    try {
      await esbuild.build({
        entryPoints: [entry],
        outfile: bundle,
        bundle: true,
        format: 'esm',
        platform: 'neutral',
        target: 'es2022',
        // npm packages of the project: prefer their ES module builds.
        mainFields: ['module', 'main'],
        external: ['eddy:*', 'wasi:*'],
        alias: { eddy: sdkEntry },
        absWorkingDir: path.resolve(projectDir),
        logLevel: 'error',
      });
    } catch {
      // esbuild has printed the errors (file:line:column and the offending code).
      fail(`bundling ${path.relative(path.resolve(projectDir), handlerFile)} failed`);
    }

    let component;
    try {
      ({ component } = await componentize({
        sourcePath: bundle,
        witPath,
        worldName: 'function',
      }));
    } catch (error) {
      fail(`componentize-js failed: ${error?.message ?? error}`);
    }

    const out = path.resolve(outWasm);
    await mkdir(path.dirname(out), { recursive: true });
    const partial = `${out}.partial-${process.pid}`;
    await writeFile(partial, component);
    await rename(partial, out);
    process.stderr.write(`eddy: js build: wrote ${out} (${component.length} bytes)\n`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (error) {
  process.stderr.write(
    `eddy: js build: ${error instanceof BuildFailure ? error.message : (error?.stack ?? error)}\n`,
  );
  process.exitCode = 1;
}
