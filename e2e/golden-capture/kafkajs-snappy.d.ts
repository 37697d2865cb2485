declare module "kafkajs-snappy" {
  /** A kafkajs codec factory: `CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec`. */
  const SnappyCodec: () => unknown;
  export default SnappyCodec;
}
