"""No mistake: `**` takes a number exponent only, as the lecture's does, but converts it with float() where the
lecture asserts: `x ** y` fails with "float() argument must be a string or a real number, not 'Value'". An
operand form the engine does not take is not a bug: the probe lists it, and no case uses it."""
from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def __pow__(self, other):
        return super().__pow__(float(other))
