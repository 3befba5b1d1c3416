// The interactive API reference at /api/v1/docs. Swagger UI is bundled into this build
// from npm (swagger-ui-dist), so the page works offline: FastAPI's default page loads it
// from a CDN (issue 11).
import 'swagger-ui-dist/swagger-ui.css';
import SwaggerUIBundle from 'swagger-ui-dist/swagger-ui-bundle.js';

SwaggerUIBundle({
  // The server rewrites <base href> to its --base-path.
  url: new URL('api/v1/openapi.json', document.baseURI).href,
  dom_id: '#swagger-ui',
  deepLinking: true,
  // Swagger UI's default asks validator.swagger.io to check the spec.
  validatorUrl: null,
});
