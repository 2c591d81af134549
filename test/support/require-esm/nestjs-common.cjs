// See resolver.cjs: the ESM @nestjs/common the app imports, for a CommonJS package's require().
module.exports = globalThis.__requireEsmBridge['@nestjs/common'];
