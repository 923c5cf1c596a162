/**
 * Cases where Debian's reference plugin (v1.1.1) is wrong or where ours deliberately differs: the case
 * id, why, and the decision ours takes instead. Effects of these cases are not compared.
 */
/** `del`: ours may also refuse the DEL the reference accepts. */
type Exception = { why: string; ours: 'accept' | 'refuse'; del?: boolean };

const NO_NAME: Exception = {
  why: "the reference's skeleton refuses any ADD/DEL without a network name (code 7); ours needs the name only where the plugin uses it (state paths, rule comments) — kept lenient, see docs/go-json-decoding.md",
  ours: 'accept',
};
// The reference's static IPAM Address struct has an untagged `Address net.IPNet` field next to
// `AddressStr string \`json:"address"\``: Go maps the key "Address" to that field by exact name and fails
// to decode a string into a struct. A quirk of the struct, not a rule to copy.
const STATIC_ADDRESS: Exception = {
  why: 'reference quirk: "Address" decodes into its hidden net.IPNet field and fails',
  ours: 'accept',
};

export const EXCEPTIONS: Record<string, Exception> = {
  'loopback: name null': NO_NAME,
  'loopback: name empty': NO_NAME,
  'loopback: name missing': NO_NAME,
  'static: ipam.addresses.0.address Capitalised': STATIC_ADDRESS,
  'static: every key Capitalised': STATIC_ADDRESS,
  'host-device: ipam.addresses.0.address Capitalised': STATIC_ADDRESS,
  'host-device: every key Capitalised': STATIC_ADDRESS,
  'host-local: ipam.routes.0.dst missing': {
    why: 'the reference returns a route with a zero destination ("<nil>" on the wire); a route needs a dst (DEL refuses the config too)',
    ours: 'refuse',
    del: true,
  },
  'static: ipam.routes.0.dst missing': {
    why: 'the reference returns a route with a zero destination ("<nil>" on the wire); a route needs a dst',
    ours: 'refuse',
  },
  'firewall: prevResult.cniVersion empty': {
    why: 'the reference cannot convert a prevResult whose cniVersion is ""; ours reads it in the config\'s version, as when the key is missing',
    ours: 'accept',
  },
};
