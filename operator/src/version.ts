// This operator's release. operator/package.json and the chart's appVersion carry the same number (a test checks), so
// a bare operator and the chart default to the same broker image.
export const OPERATOR_VERSION = "0.1.0";
