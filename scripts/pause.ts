// forge pause TARGET: see scripts/control.ts.
import { runControl } from './control.ts';

runControl('pause');
