"""No mistake: the constructor converts with `self.data = float(data)`. Where `**` makes Python's complex number
(`(-1.0) ** 0.5`), float() refuses it in `__init__`, and torch gives nan: a Python float fact (class 3) of the
`**` that made the complex number, not a bug of the constructor."""
from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def __init__(self, data, _children=(), _op='', label=''):
        super().__init__(float(data), _children, _op, label)
