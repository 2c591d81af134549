#!/usr/bin/env node
// Entry point of the `kdm` CLI. The Node version is checked before anything else loads:
// static imports are all loaded before any code runs, and on an old Node the CLI's
// dependencies crash while loading. So the CLI comes in through a dynamic import.
import { exitUnlessSupportedNode } from '../node-version.js';

exitUnlessSupportedNode();
await import('./kdm.run.js');
