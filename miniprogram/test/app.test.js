// The app's configuration: what WeChat reads before any page runs.
const app = require('../app.json');
const theme = require('../theme.json');

test('the app opts in to privacy checks, so the page can ask for consent itself', () => {
  expect(app.__usePrivacyCheck__).toBe(true);
});

test('dark mode: every @variable the window uses exists in both themes', () => {
  expect(app.darkmode).toBe(true);
  expect(app.themeLocation).toBe('theme.json');
  const used = Object.values(app.window).filter((v) => String(v).startsWith('@')).map((v) => v.slice(1));
  expect(used.length).toBeGreaterThan(0);
  for (const mode of ['light', 'dark']) {
    for (const name of used) expect(theme[mode]).toHaveProperty(name);
  }
});
