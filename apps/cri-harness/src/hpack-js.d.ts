// The part of hpack.js (no published types) the authority rewriter uses: a stateful HPACK decoder.
declare module 'hpack.js' {
  interface DecodedHeader {
    name: string;
    value: string;
    neverIndex: boolean;
  }
  interface Decompressor {
    _decoder: { push(data: Buffer): void; isEmpty(): boolean };
    _execute(): void;
    push(header: DecodedHeader): boolean;
  }
  const hpack: { decompressor: { create(options: { table: { maxSize: number } }): Decompressor } };
  export default hpack;
  export type { DecodedHeader, Decompressor };
}
