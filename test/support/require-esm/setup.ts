// See resolver.cjs. Runs before each test file, in its module registry, so the bridges hand
// CommonJS packages the same module instances (decorators, Reflector) the app uses.
import * as common from '@nestjs/common';
import * as core from '@nestjs/core';
// @ts-expect-error -- the copy @fastify/static loads, not a package of ours: resolver.cjs finds it.
import * as contentDisposition from 'content-disposition';

(globalThis as { __requireEsmBridge?: unknown }).__requireEsmBridge = {
  '@nestjs/common': common,
  '@nestjs/core': core,
  'content-disposition': contentDisposition,
};
