// Jest on Node 22 cannot require() an ESM-only package from a CommonJS one (Node 24.9+ can, and
// so does plain Node 22 outside jest). @nestjs/throttler is CommonJS and requires the ESM-only
// @nestjs/common and @nestjs/core: for requires from inside it, this resolver hands out bridges
// that return the very ESM modules the app imports (setup.ts puts them on globalThis first).
// eslint-disable-next-line @typescript-eslint/no-require-imports -- jest loads resolvers as CommonJS
const path = require('node:path');

const BRIDGED = { '@nestjs/common': 'nestjs-common.cjs', '@nestjs/core': 'nestjs-core.cjs' };
const CJS_USERS = /[\\/]node_modules[\\/]@nestjs[\\/]throttler[\\/]/;

module.exports = (request, options) => {
  if (BRIDGED[request] && CJS_USERS.test(`${options.basedir}/`)) return path.join(__dirname, BRIDGED[request]);
  return options.defaultResolver(request, options);
};
