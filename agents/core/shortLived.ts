// Imported first by the commands that run once and exit (status, submit, watch, signal, logs):
// zod builds no compiled parser for an object schema (its JIT, new Function per shape, repays
// its compile only over many parses of one shape, as in the daemons; a command parses a few
// files). Read by zod when a schema is built, so this module must come before any schema's.
import * as z from './zod.ts';

z.config({ jitless: true });
