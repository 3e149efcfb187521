//! Properties (proptest) filled in below.
