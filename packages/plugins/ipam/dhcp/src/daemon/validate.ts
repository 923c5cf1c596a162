import { isAbsolute, normalize } from 'node:path';
import { validateContainerID, validateInterfaceName } from '@tscni/cni/validate';
import type { LeaseRequest } from '../rpc';

/** Nothing from the socket reaches a path or a command unchecked. */
export function validateLeaseRequest(req: LeaseRequest): void {
  if (!req || typeof req !== 'object') throw new Error('missing lease request');
  if (typeof req.clientID !== 'string' || !req.clientID || Buffer.byteLength(req.clientID) > 254)
    throw new Error('invalid client ID');
  validateContainerID(req.containerID);
  if (typeof req.network !== 'string' || !req.network) throw new Error('invalid network name');
  validateInterfaceName(req.ifName);
  if (
    typeof req.netns !== 'string' ||
    !isAbsolute(req.netns) ||
    normalize(req.netns) !== req.netns ||
    /[\0\n]/.test(req.netns)
  ) {
    throw new Error(`invalid netns path ${JSON.stringify(req.netns)}`);
  }
  if (!Array.isArray(req.request) || !req.request.every((c) => Number.isInteger(c) && c >= 1 && c <= 254))
    throw new Error('invalid requested options');
  if (
    !Array.isArray(req.provide) ||
    !req.provide.every(
      (p) =>
        Array.isArray(p) &&
        Number.isInteger(p[0]) &&
        p[0] >= 1 &&
        p[0] <= 254 &&
        typeof p[1] === 'string' &&
        Buffer.byteLength(p[1]) <= 255,
    )
  ) {
    throw new Error('invalid provided options');
  }
}
