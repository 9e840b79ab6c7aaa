//! `AWS/Lambda`: what the function service and the event-source mappings record per function,
//! and again without dimensions for the account-wide aggregate AWS also publishes.

super::keyed_metrics! {
    /// A Lambda metric (namespace `AWS/Lambda`, dimension `FunctionName`, or none for the
    /// account-wide aggregate).
    LambdaMetric in "AWS/Lambda", by "FunctionName" as "function_name" {
        /// Invocations of the function, failed ones included.
        Invocations = "Invocations", Count, Counter, "weir_lambda_invocations_total";
        /// Invocations that ended in a function error, or that weir could not run.
        Errors = "Errors", Count, Counter, "weir_lambda_errors_total";
        /// Invocations that waited because every sandbox the function's concurrency allows was busy.
        Throttles = "Throttles", Count, Counter, "weir_lambda_throttles_total";
        /// Time an invocation took, from its request to its answer.
        Duration = "Duration", Milliseconds, Latency, "weir_lambda_duration_milliseconds";
        /// Invocations running at once, sampled when one starts (Maximum is the peak).
        ConcurrentExecutions = "ConcurrentExecutions", Count, Gauge, "weir_lambda_concurrent_executions";
        /// Age of the newest record of a batch an event-source mapping read, when read.
        IteratorAge = "IteratorAge", Milliseconds, Gauge, "weir_lambda_iterator_age_milliseconds";
    }
}
