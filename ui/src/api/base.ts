/**
 * The app's base path, from `<base href>` (the server rewrites it to its --base-path).
 * Always starts and ends with '/'.
 */
export function basePathFromUri(baseUri: string): string {
  let path: string;
  try {
    path = new URL(baseUri).pathname;
  } catch {
    path = '/';
  }
  if (!path.startsWith('/')) path = `/${path}`;
  // A base href naming a file ("/x/index.html") means its folder.
  if (!path.endsWith('/')) path = path.slice(0, path.lastIndexOf('/') + 1);
  return path;
}

export const basePath: string =
  typeof document === 'undefined' ? '/' : basePathFromUri(document.baseURI);

/** The router basename: the base path without its trailing slash ('' stays '/'). */
export function routerBasename(base: string): string {
  const trimmed = base.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}
