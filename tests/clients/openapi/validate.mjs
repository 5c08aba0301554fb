// Fetches an OpenAPI document from a running member and validates it against the OpenAPI JSON Schema of its version
// (@seriousme/openapi-schema-validator: the OpenAPI Initiative's published schemas, with the 3.1 dialect).
//
//   node validate.mjs http://127.0.0.1:PORT/api/v1/openapi.json
//
// Prints one JSON line: {"valid": true|false, "version": "3.1", "errors": [...]}; exits 0 when valid, 1 when not,
// 2 on bad usage or when the document cannot be fetched.
import { Validator } from '@seriousme/openapi-schema-validator';

const [url] = process.argv.slice(2);
if (!url) {
  console.error('usage: node validate.mjs <url of an OpenAPI document>');
  process.exit(2);
}

let document;
try {
  const response = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  if (!response.ok) {
    throw new Error(`${response.status} ${response.statusText}`);
  }
  document = await response.json();
} catch (e) {
  console.log(JSON.stringify({ valid: false, errors: [`fetching ${url}: ${e.message}`] }));
  process.exit(2);
}

const validator = new Validator();
const result = await validator.validate(document);
console.log(JSON.stringify({ valid: result.valid, version: validator.version, errors: result.errors ?? [] }));
process.exit(result.valid ? 0 : 1);
