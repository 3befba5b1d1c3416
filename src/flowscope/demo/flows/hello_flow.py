"""A linear flow with parameters: the smallest useful Metaflow flow."""

from metaflow import FlowSpec, Parameter, step


class HelloFlow(FlowSpec):
    """Greets someone a few times."""

    who = Parameter("who", default="world", help="who to greet")
    times = Parameter("times", default=3, help="how many greetings")

    @step
    def start(self):
        """Prepare the greeting."""
        self.greeting = f"Hello, {self.who}!"
        self.next(self.repeat)

    @step
    def repeat(self):
        """Say it a few times."""
        for i in range(self.times):
            print(f"{i + 1}: {self.greeting}")
        self.next(self.end)

    @step
    def end(self):
        """Done."""
        print("bye")


if __name__ == "__main__":
    HelloFlow()
