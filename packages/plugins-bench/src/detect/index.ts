/**
 * Change detection, pure: statistics, the cheap suspect test, change points with false discovery
 * control across metrics, grouping into alerts, and the bisection step. No I/O (see
 * `../Analysis.ts` for the part that reads and writes the database).
 */
export { type BisectStep, bisectStep, classifySide, type RangeCommit, type Side, type SideVerdict } from "./Bisect.js"
export {
  type ChangePoint,
  type ChangePointOptions,
  changePoints,
  defaultChangePointOptions,
  mergeChangePoints,
  weakChangePoints
} from "./ChangePoints.js"
export {
  defaultDetectOptions,
  type DetectedChange,
  type Detection,
  type DetectOptions,
  detectChanges,
  groupByRange,
  type Range,
  type Series
} from "./Detect.js"
export { benjaminiHochberg } from "./Fdr.js"
export {
  incompleteBeta,
  logGamma,
  mean,
  type MeanDifference,
  meanDifference,
  median,
  studentCritical,
  studentTest,
  studentTwoSided,
  studentUpperTail,
  type Summary,
  summarize,
  type TTest,
  welchTest
} from "./Statistics.js"
export { defaultSuspectOptions, type DirectionSign, type SuspectOptions, type SuspectVerdict, testSuspect } from "./Suspect.js"
