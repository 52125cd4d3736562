"""The simulated world behind a dataset, as pure numpy functions of a seed.

calendar.py  the time axis and the city's daily and weekly rhythms
weather.py   storms, rain, wind, temperature, humidity, pressure
noise.py     AR(1) noise and delayed responses (rain reaching the beaches)
context.py   what all sensors share: the drivers above and the district pollution field
kinds.py     what a perfect sensor of each kind would read
series.py    what each real sensor reads: plus its offset and its own noise, clamped
"""
