// Entry point of `make bench` (bench/runner.ts says what it does). The Node version is
// checked before the benches and the app they import load: on an old Node those crash
// while loading, so they come in through a dynamic import.
import { exitUnlessSupportedNode } from '../src/node-version.js';

exitUnlessSupportedNode();
const { runFromCommandLine } = await import('./runner.js');
runFromCommandLine();
