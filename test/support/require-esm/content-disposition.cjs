// See resolver.cjs: the ESM content-disposition, for @fastify/static's require().
module.exports = globalThis.__requireEsmBridge['content-disposition'];
