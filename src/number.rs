//! Phone numbers: E.164 normalisation, country and number type.
