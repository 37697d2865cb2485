// The release this build is: its version, and the highest metadata.version it ships (docs/adr/0027). A build stamp:
// e2e/image/build.sh writes the compiled form of this module (dist/src/release.js) into a broker image from its build
// arguments, as Kafka's build writes kafka-version.properties into its jar and Go's -ldflags -X sets a variable. This
// source is what every other build is: the package's version (broker/package.json; a test keeps them equal) and every
// level the code knows. The upgrade e2e stamps an image as the previous release with that release's highest level,
// as an older Kafka knows no level newer than its own. Nothing reads it from configuration or the environment.

export interface Release {
  /** The release version (semver), e.g. 0.1.0. */
  readonly version: string;
  /** The highest metadata.version level this build supports; undefined: every level in controller/features.ts. */
  readonly maxMetadataVersion: number | undefined;
}

export const RELEASE: Release = { version: "0.1.0", maxMetadataVersion: undefined };
