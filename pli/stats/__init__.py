"""Spatial statistics shared by the LSOA clustering and the patrol grid."""
