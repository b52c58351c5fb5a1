/**
 * The payload key of the committed replay fixtures. NOT a secret: it encrypts nothing but these
 * synthetic test histories, so that replay runs through the same codec as production.
 */
export const FIXTURE_PAYLOAD_KEY = 'dGVzc2VyYS1yZXBsYXktZml4dHVyZXMtb25seS0wMDE=';
