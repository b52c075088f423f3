/** The public face of the SIP usage (RFC 7904): what the app and the headless host use of src-main/sip. */
export {
  SipService,
  SipLocalPortInUseError,
  SipServiceStateError,
  type SipServiceOptions,
  type SipServiceStatus,
  type SipFailure,
  type SipResolutionRecord,
} from './sip-service';
export { LocalRegistrar, type LocalBindingStatus } from './local-registrar';
export { LOCAL_SIP_DEFAULTS, type LocalSipStatus } from './local/local-sip-interface';
export type { SipTransport, SipParty } from './transport/sip-transport';
export { gruuFor } from './gruu';
export { SIP_REGISTRATION_KIND } from './sip-registration';
