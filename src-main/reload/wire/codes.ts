/** Code points from RFC 6940's registries (and RFC 7851/7363/7263/7904 where they add to them). */

export const RELO_TOKEN = 0xd2454c4f;
export const PROTOCOL_VERSION = 0x0a;
export const FORWARDING_HEADER_FIXED_LENGTH = 38;
/** Fragment field bits. */
export const FRAGMENT_HISTORIC_BIT = 0x80000000;
export const FRAGMENT_LAST_BIT = 0x40000000;
export const FRAGMENT_OFFSET_MASK = 0x00ffffff;
export const UNFRAGMENTED = 0xc0000000;
export const DEFAULT_INITIAL_TTL = 100;

/** Request codes (odd); the answer is request + 1; 0xffff is an error response. */
export const MessageCode = {
  probe_req: 0x0001,
  probe_ans: 0x0002,
  attach_req: 0x0003,
  attach_ans: 0x0004,
  store_req: 0x0007,
  store_ans: 0x0008,
  fetch_req: 0x0009,
  fetch_ans: 0x000a,
  find_req: 0x000d,
  find_ans: 0x000e,
  join_req: 0x000f,
  join_ans: 0x0010,
  leave_req: 0x0011,
  leave_ans: 0x0012,
  update_req: 0x0013,
  update_ans: 0x0014,
  route_query_req: 0x0015,
  route_query_ans: 0x0016,
  ping_req: 0x0017,
  ping_ans: 0x0018,
  stat_req: 0x0019,
  stat_ans: 0x001a,
  app_attach_req: 0x001d,
  app_attach_ans: 0x001e,
  config_update_req: 0x0021,
  config_update_ans: 0x0022,
  path_track_req: 0x0027,
  path_track_ans: 0x0028,
  error: 0xffff,
} as const;
export type MessageCodeName = keyof typeof MessageCode;

export function isRequestCode(code: number): boolean {
  return code !== MessageCode.error && (code & 1) === 1;
}

export function answerCodeFor(requestCode: number): number {
  return requestCode + 1;
}

export const ErrorCode = {
  Forbidden: 0x0002,
  Not_Found: 0x0003,
  Request_Timeout: 0x0004,
  Generation_Counter_Too_Low: 0x0005,
  Incompatible_with_Overlay: 0x0006,
  Unsupported_Forwarding_Option: 0x0007,
  Data_Too_Large: 0x0008,
  Data_Too_Old: 0x0009,
  TTL_Exceeded: 0x000a,
  Message_Too_Large: 0x000b,
  Unknown_Kind: 0x000c,
  Unknown_Extension: 0x000d,
  Response_Too_Large: 0x000e,
  Config_Too_Old: 0x000f,
  Config_Too_New: 0x0010,
  In_Progress: 0x0011,
  Exp_A: 0x0012,
  Exp_B: 0x0013,
  Invalid_Message: 0x0014,
  // RFC 7851 (diagnostics)
  Underlay_Destination_Unreachable: 0x0015,
  Underlay_Time_Exceeded: 0x0016,
  Message_Expired: 0x0017,
  Upstream_Misrouting: 0x0018,
  Loop_Detected: 0x0019,
  TTL_Hops_Exceeded: 0x001a,
} as const;
export type ErrorCodeName = keyof typeof ErrorCode;

export const KindId = {
  SIP_REGISTRATION: 0x1,
  TURN_SERVICE: 0x2,
  CERTIFICATE_BY_NODE: 0x3,
  CERTIFICATE_BY_USER: 0x10,
  REDIR: 0x104,
} as const;

export const ForwardingOptionFlag = {
  FORWARD_CRITICAL: 0x01,
  DESTINATION_CRITICAL: 0x02,
  RESPONSE_COPY: 0x04,
  IGNORE_STATE_KEEPING: 0x08,
} as const;

export const ForwardingOptionType = { exp_forward: 1, extensive_routing_mode: 2 } as const;

export const MessageExtensionType = { exp_ext: 0x0001, Diagnostic_Ping: 0x0002, self_tuning_data: 0x0003 } as const;

export const OverlayLinkType = {
  'DTLS-UDP-SR': 1,
  'DTLS-UDP-SR-NO-ICE': 3,
  'TLS-TCP-FH-NO-ICE': 4,
  'EXP-LINK': 5,
} as const;

export const ApplicationId = { SIP: 5060, SIPS: 5061 } as const;

/** TLS 1.2 HashAlgorithm / SignatureAlgorithm registries (RFC 5246). */
export const HashAlgorithm = { none: 0, md5: 1, sha1: 2, sha224: 3, sha256: 4, sha384: 5, sha512: 6 } as const;
export const SignatureAlgorithm = { anonymous: 0, rsa: 1, dsa: 2, ecdsa: 3 } as const;
export const CertificateType = { X509: 0 } as const;
