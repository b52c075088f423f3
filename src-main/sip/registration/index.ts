/** This node's SIP-REGISTRATION records in the overlay (RFC 7904 §3): the service, its helpers and errors. */
export * from './overlay-registrations';
export * from './contact-prefs';
export * from './aor';
export * from './errors';
