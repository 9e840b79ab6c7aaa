//! `AWS/Firehose`: what the put path and the delivery pipelines record per delivery stream.

super::keyed_metrics! {
    /// A Firehose metric (namespace `AWS/Firehose`, dimension `DeliveryStreamName`).
    FirehoseMetric in "AWS/Firehose", by "DeliveryStreamName" as "delivery_stream_name" {
        /// Records put with PutRecord and PutRecordBatch.
        IncomingRecords = "IncomingRecords", Count, Counter, "weir_firehose_incoming_records_total";
        /// Bytes put with PutRecord and PutRecordBatch.
        IncomingBytes = "IncomingBytes", Bytes, Counter, "weir_firehose_incoming_bytes_total";
        /// Records delivered to the S3 destination.
        DeliveryToS3Records = "DeliveryToS3.Records", Count, Counter, "weir_firehose_delivery_to_s3_records_total";
        /// Bytes of the objects written to the S3 destination.
        DeliveryToS3Bytes = "DeliveryToS3.Bytes", Bytes, Counter, "weir_firehose_delivery_to_s3_bytes_total";
        /// Successful S3 puts (Average is the success rate).
        DeliveryToS3Success = "DeliveryToS3.Success", Count, Counter, "weir_firehose_delivery_to_s3_success_total";
        /// Age of the oldest record of the last object delivered to S3, when it was delivered.
        DeliveryToS3DataFreshness = "DeliveryToS3.DataFreshness", Seconds, Gauge, "weir_firehose_delivery_to_s3_data_freshness_seconds";
    }
}
