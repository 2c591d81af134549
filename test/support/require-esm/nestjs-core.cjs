// See resolver.cjs: the ESM @nestjs/core the app imports, for a CommonJS package's require().
module.exports = globalThis.__requireEsmBridge['@nestjs/core'];
