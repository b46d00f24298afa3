"""`pocctl local`: moto's server plus what moto doesn't do, so the pipeline really runs offline."""
