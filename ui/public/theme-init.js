// Apply the saved theme before first paint so the page does not flash. A file, not an
// inline script: the app's Content-Security-Policy allows scripts from 'self' only.
try {
  const saved = localStorage.getItem('flowscope.theme');
  if (saved === 'light' || saved === 'dark') document.documentElement.dataset.theme = saved;
} catch {}
