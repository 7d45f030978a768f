// Validates an OpenAPI document with @apidevtools/swagger-parser (schema of the OpenAPI 3.0
// specification, $refs resolved): node validate-openapi.mjs FILE. Prints "openapi: valid ..."
// and exits 0, or prints the validator's complaint and exits 1.
import SwaggerParser from '@apidevtools/swagger-parser';

const file = process.argv[2];
try {
  const api = await SwaggerParser.validate(file);
  const ops = Object.values(api.paths).reduce((n, p) => n + Object.keys(p).length, 0);
  console.log(`openapi: valid ${api.openapi}, ${Object.keys(api.paths).length} paths, ${ops} operations`);
} catch (e) {
  console.log(`openapi: INVALID: ${e.message}`);
  process.exit(1);
}
