import { createHash } from 'node:crypto';
import { resolve } from 'node:path';

/** cnitool's container ID: `cnitool-` + the first 10 bytes (20 hex chars) of sha512(absolute netns path). */
export function cnitoolContainerID(netnsPath: string): string {
  return `cnitool-${createHash('sha512').update(resolve(netnsPath)).digest('hex').slice(0, 20)}`;
}
