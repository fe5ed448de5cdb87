// zod for every schema of the project: its mini API (zod/mini), whose schemas carry no bound
// methods and so cost little to build at each command's start. Import it whole
// (`import * as z from './zod.ts'`): a bundler then keeps only the parts used, where
// `import { z }` would keep all of zod, every locale included.
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

// zod/mini sets no locale, and its default messages would read "Invalid input" alone: English,
// as classic zod sets it, unless a locale was set already.
if (!config().localeError) config(en());

export * from 'zod/mini';
