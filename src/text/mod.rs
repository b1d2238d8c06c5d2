//! Message text: GSM 03.38, UCS-2, encoding choice, segmentation.
