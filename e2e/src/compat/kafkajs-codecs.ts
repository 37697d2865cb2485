// kafkajs ships gzip only and takes other codecs as plugins: `CompressionCodecs[type] = () => ({ compress, decompress })`.
// The npm plugins for lz4 (kafkajs-lz4 → lz4@0.6, nan) and zstd (@kafkajs/zstd → cppzst@2.0.6) are unmaintained native
// builds, so the suite plugs in these two small adapters over maintained N-API libraries instead (docs/compat.md).
// Kafka's lz4 is the LZ4 frame format; zstd is a plain zstd frame.
import { compressFrame, decompressFrame } from "lz4-napi";
import { Decoder, Encoder } from "@toondepauw/node-zstd";

interface KafkajsEncoder {
  buffer: Buffer;
}

export interface KafkajsCodec {
  compress(encoder: KafkajsEncoder): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

export const lz4Codec = (): KafkajsCodec => ({
  compress: (encoder) => compressFrame(encoder.buffer),
  decompress: (buffer) => decompressFrame(buffer),
});

export const zstdCodec = (): KafkajsCodec => {
  const encoder = new Encoder(3);
  const decoder = new Decoder();
  return {
    compress: (e) => encoder.encode(e.buffer),
    decompress: (buffer) => decoder.decode(buffer),
  };
};
