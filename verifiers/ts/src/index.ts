/**
 * licensing-verifier: offline verification of license files, and the air-gapped file exchanges.
 *
 * - verify.ts: the TypeScript port of the Python verifier (licensing/verify.py), with the same
 *   behaviour, proven by the same conformance vectors (tests/vectors).
 * - airgap.ts: the port of licensing/airgap.py (SPEC section 8): an installation key, activation
 *   requests, a local usage log exporting chained usage reports, usage receipts, and comparing two
 *   licenses.
 *
 * No runtime dependency: Ed25519 and SHA-256 come from node:crypto (Node 20 or later); nothing here
 * ever touches the network.
 */

export {
  ERROR_CODES,
  Keyring,
  KeyringError,
  License,
  LicenseError,
  RevocationList,
  jwkThumbprint,
  loadRevocations,
  parseKeyring,
  unarmor,
  verify,
  type ArmorLabel,
  type Customer,
  type ErrorCode,
  type VerifyOptions,
} from "./verify.js";

export {
  AIRGAP_ERROR_CODES,
  AirgapError,
  Comparison,
  InstallationKey,
  Receipt,
  UsageLog,
  activationRequest,
  compare,
  newInstallationKey,
  reportDigest,
  usageReport,
  verifyReceipt,
  type ActivationRequestOptions,
  type AirgapErrorCode,
  type Change,
  type ComparisonWarning,
  type PublicJwk,
  type UsageLogOptions,
  type UsageReportFields,
  type VerifyReceiptOptions,
} from "./airgap.js";
