/** Light or dark: the system's choice until the person picks one, which is remembered. */
import { webDarkTheme, webLightTheme, type Theme } from '@fluentui/react-components';

export type ThemeChoice = 'light' | 'dark';

const KEY = 'zsa.theme';

export function initialTheme(): ThemeChoice {
  const saved = window.localStorage.getItem(KEY);
  if (saved === 'light' || saved === 'dark') return saved;
  return window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

export function rememberTheme(choice: ThemeChoice): void {
  window.localStorage.setItem(KEY, choice);
}

export function fluentTheme(choice: ThemeChoice): Theme {
  return choice === 'dark' ? webDarkTheme : webLightTheme;
}
