import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** Where the trimmed CRI proto lives, relative to the repository root. */
export const PROTO_RELATIVE = 'protos/runtime/v1/api.proto';

/**
 * snake_case fields (as in the proto and in crictl's pod.json), enums by name, int64 as decimal
 * strings (created_at is in nanoseconds, beyond 2^53), defaults filled in so no field is undefined.
 */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

/**
 * The proto file: `$TSCNI_CRI_PROTO` if set, else the first `protos/runtime/v1/api.proto` found walking
 * up from this module (the source tree, or dist/bin/ for the bundle — both sit inside the repository).
 */
export function findProto(): string {
  const override = process.env.TSCNI_CRI_PROTO;
  if (override) return resolve(override);
  let dir = moduleDir();
  for (;;) {
    const candidate = join(dir, PROTO_RELATIVE);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error(`cannot find ${PROTO_RELATIVE} above ${moduleDir()}; set TSCNI_CRI_PROTO to its path`);
    dir = parent;
  }
}

function moduleDir(): string {
  // The bundle is CommonJS (__dirname); the sources run as ES modules (import.meta.dirname).
  if (typeof __dirname === 'string') return __dirname;
  return import.meta.dirname;
}

/** `runtime.v1.RuntimeService`'s definition, ready for `server.addService` or `makeGenericClientConstructor`. */
export function loadRuntimeService(protoFile = findProto()): grpc.ServiceDefinition {
  return loadService(protoFile, 'RuntimeService', 'Version');
}

/** `runtime.v1.ImageService`'s definition. */
export function loadImageService(protoFile = findProto()): grpc.ServiceDefinition {
  return loadService(protoFile, 'ImageService', 'ImageFsInfo');
}

function loadService(protoFile: string, name: string, method: string): grpc.ServiceDefinition {
  const definition = protoLoader.loadSync(protoFile, LOADER_OPTIONS);
  const service = definition[`runtime.v1.${name}`];
  if (!service || !(method in service)) throw new Error(`${protoFile} does not define runtime.v1.${name}`);
  return service as unknown as grpc.ServiceDefinition;
}
