//! Capacity modelling: pure math over measured throughput (the Universal
//! Scalability Law fit). The sweeps that feed it live with the stress engine.

pub mod usl;
