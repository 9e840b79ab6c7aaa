pub mod compress;
pub mod deagg;
pub mod http_endpoint;
pub mod keys;
pub mod partition;
pub mod sink;
pub mod transform;
