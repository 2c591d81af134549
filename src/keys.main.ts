// Entry point of `npm run keys` (API key management). The Node version is checked before anything else loads:
// static imports are all loaded before any code runs, and on an old Node the app's
// dependencies crash while loading. So the app comes in through a dynamic import.
import { exitUnlessSupportedNode } from './node-version.js';

exitUnlessSupportedNode();
await import('./keys.run.js');
