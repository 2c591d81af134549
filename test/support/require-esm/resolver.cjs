// Jest on Node 22 cannot require() an ESM-only package from a CommonJS one (Node 24.9+ can, and
// so does plain Node 22 outside jest). For requires from inside the CommonJS packages named
// below, this resolver hands out bridges that return the very ESM modules the app imports
// (setup.ts puts them on globalThis first):
// - @nestjs/throttler requires the ESM-only @nestjs/common and @nestjs/core;
// - @fastify/static (Swagger UI's assets) requires the ESM-only content-disposition 3.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- jest loads resolvers as CommonJS
const path = require('node:path');

const BRIDGED = {
  '@nestjs/common': { bridge: 'nestjs-common.cjs', users: /[\\/]node_modules[\\/]@nestjs[\\/]throttler[\\/]/ },
  '@nestjs/core': { bridge: 'nestjs-core.cjs', users: /[\\/]node_modules[\\/]@nestjs[\\/]throttler[\\/]/ },
  'content-disposition': {
    bridge: 'content-disposition.cjs',
    users: /[\\/]node_modules[\\/]@fastify[\\/]static[\\/]/,
    // setup.ts imports the copy @fastify/static resolves, wherever npm put it.
    resolveFrom: '@fastify/static/package.json',
  },
};

module.exports = (request, options) => {
  const bridged = BRIDGED[request];
  if (bridged && bridged.users.test(`${options.basedir}/`)) return path.join(__dirname, bridged.bridge);
  if (bridged?.resolveFrom && path.resolve(options.basedir) === __dirname) {
    const basedir = path.dirname(options.defaultResolver(bridged.resolveFrom, options));
    return options.defaultResolver(request, { ...options, basedir });
  }
  return options.defaultResolver(request, options);
};
