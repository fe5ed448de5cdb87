// The entry of the worker thread that reads, parses and checks one plan (checkPlan) and posts
// the result. checkPlanBounded starts it with a heap limit and stops it at a time limit, so
// whatever plan.md holds, the process that asked (the brain, `submit`) stays responsive.
import { parentPort, workerData } from 'node:worker_threads';
import { checkPlan } from './load.ts';
import type { ParseRequest } from './boundedCheck.ts';

const request = workerData as ParseRequest;
parentPort!.postMessage(await checkPlan(request.dir, request.values));
