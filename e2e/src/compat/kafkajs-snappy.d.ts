declare module "kafkajs-snappy" {
  /** kafkajs codec factory for snappy: `CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec`. */
  const codec: () => unknown;
  export default codec;
}
